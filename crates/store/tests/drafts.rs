//! A bot's draft (decision 0056), on SQLite and PostgreSQL: one per bot, saved only from the
//! revision it was read at, apart from the versions, invisible to other workspaces, removed with
//! its bot.

mod common;

use ferrogram_store::Store;

crate::both!(
    a_draft_is_saved_from_its_revision_only,
    concurrent_saves_from_one_revision_save_one,
    drafts_stay_in_their_workspace_and_go_with_their_bot,
);

async fn a_draft_is_saved_from_its_revision_only(store: Store, _url: String) {
    let home = store.create_workspace("home").await.unwrap();
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    store.publish_version(home, bot, 0, "published").await.unwrap().unwrap();
    assert_eq!(store.draft(home, bot).await.unwrap(), None, "no draft until one is saved");
    assert_eq!(store.save_draft(home, bot, 1, "x", "account:1").await.unwrap(), None, "revision 1 does not exist");
    assert_eq!(store.save_draft(home, bot, 0, "first: [", "account:1").await.unwrap(), Some(1));
    assert_eq!(store.save_draft(home, bot, 0, "again", "account:2").await.unwrap(), None, "a first save once");
    assert_eq!(store.save_draft(home, bot, 1, "second", "account:2").await.unwrap(), Some(2));
    assert_eq!(store.save_draft(home, bot, 1, "stale", "account:1").await.unwrap(), None, "a stale revision");
    let draft = store.draft(home, bot).await.unwrap().expect("a draft");
    assert_eq!((draft.source.as_str(), draft.revision, draft.updated_by.as_str()), ("second", 2, "account:2"));
    assert!(draft.updated_at > 0);
    // The versions are untouched by drafts.
    let versions = store.versions(home, bot).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.source.as_str()).collect::<Vec<_>>(), ["published"]);
}

async fn concurrent_saves_from_one_revision_save_one(store: Store, _url: String) {
    let home = store.create_workspace("home").await.unwrap();
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    store.save_draft(home, bot, 0, "one", "a").await.unwrap().unwrap();
    let store = std::sync::Arc::new(store);
    let editors: Vec<_> = (0..6)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move { store.save_draft(home, bot, 1, &format!("edit {i}"), "a").await })
        })
        .collect();
    let mut saved = Vec::new();
    for editor in editors {
        saved.extend(editor.await.unwrap().expect("a lost race is None, not an error"));
    }
    assert_eq!(saved, [2], "exactly one of the editors who read revision 1 saved");
    assert!(store.draft(home, bot).await.unwrap().unwrap().source.starts_with("edit "));
}

async fn drafts_stay_in_their_workspace_and_go_with_their_bot(store: Store, _url: String) {
    let home = store.create_workspace("home").await.unwrap();
    let other = store.create_workspace("other").await.unwrap();
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    assert_eq!(store.save_draft(other, bot, 0, "intruder", "x").await.unwrap(), None);
    assert_eq!(store.draft(home, bot).await.unwrap(), None, "nothing saved from another workspace");
    store.save_draft(home, bot, 0, "mine", "x").await.unwrap().unwrap();
    assert_eq!(store.draft(other, bot).await.unwrap(), None, "not readable from another workspace");
    assert_eq!(store.save_draft(other, bot, 1, "intruder", "x").await.unwrap(), None);
    assert_eq!(store.draft(home, bot).await.unwrap().unwrap().source, "mine");
    store.remove_bot(home, bot, false).await.unwrap().expect("removed");
    let again = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    assert_eq!(store.draft(home, again).await.unwrap(), None, "the draft went with its bot");
}
