//! Ferrogram beside teloxide, aiogram and grammY, in one run against one in-process sandbox
//! (`bench/run` builds and installs the peers, then runs this). Writes bench/RESULTS.md and the
//! latency chart bench/echo-latency.svg (with `--quick`, the short run of `compare::quick`
//! instead). This is the order of the scenarios; the options, the scenarios, the bots'
//! processes and the report are in `ferrogram_bench::compare`.

use clap::Parser;
use ferrogram_bench::compare::results::Results;
use ferrogram_bench::compare::scenarios::{bulk, echo, many, menu, open_loop, rig};
use ferrogram_bench::compare::users::{create_subscribers, create_users};
use ferrogram_bench::compare::{Args, Ctx, Fw, say};
use ferrogram_bench::{proxy, report};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.quick {
        return ferrogram_bench::compare::quick::run(args).await;
    }
    let started = Instant::now();
    let frameworks: Vec<Fw> =
        args.frameworks.iter().map(|n| Fw::parse(n).unwrap_or_else(|| panic!("unknown framework {n:?}"))).collect();
    std::fs::create_dir_all(&args.work).expect("work folder");
    let work = std::fs::canonicalize(&args.work).expect("work folder");
    let sandbox = ferrogram_bench::sandbox_without_limits().await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(512).build().expect("client");
    let ctx = Ctx { args: args.clone(), url: sandbox.url(), http, work };
    let mut out = Results::default();

    say("rig limit: the sandbox with a null client");
    out.capacity = rig::rig_limit(&ctx).await;

    say(&format!("echo: creating {} users", args.users));
    let users = create_users(&ctx, args.users).await;
    for &fw in &frameworks {
        say(&format!("echo: {}", fw.name()));
        let result = echo::echo(&ctx, fw, &users).await;
        if let Some(error) = &result.error {
            say(&format!("echo: {} failed: {error}", fw.name()));
        }
        out.echo.push(result);
    }

    if !args.open_rates.is_empty() {
        for &fw in &frameworks {
            say(&format!("open-loop echo: {}", fw.name()));
            let result = open_loop::open_loop(&ctx, fw, &users).await;
            if let Some(error) = &result.error {
                say(&format!("open-loop echo: {} failed: {error}", fw.name()));
            }
            out.open.push(result);
        }
    }

    if args.subscribers > 0 {
        say(&format!("bulk: creating {} subscribers", args.subscribers));
        create_subscribers(&ctx, args.subscribers).await;
        let (proxy_url, counts, _proxy) = proxy::start(&ctx.url).await;
        for &fw in frameworks.iter().filter(|fw| fw.in_bulk_and_many()) {
            say(&format!("bulk: {}", fw.name()));
            let result = bulk::bulk(&ctx, fw, users[0], &proxy_url, &counts).await;
            if let Some(error) = &result.error {
                say(&format!("bulk: {} failed: {error}", fw.name()));
            }
            out.bulk.push(result);
        }
    }

    if args.menu_load > 0 && args.menu_seconds > 0 {
        match menu::menu_database(&args.postgres).await {
            Ok(database) => {
                let mut runs: Vec<(Fw, Option<&str>)> = Vec::new();
                for &fw in &frameworks {
                    runs.push((fw, Some(&database)));
                    if fw == Fw::Ferrogram && args.menu_sqlite {
                        runs.push((fw, None));
                    }
                }
                for (fw, database) in runs {
                    let result = menu::menu(&ctx, fw, database, &users).await;
                    if let Some(error) = &result.error {
                        say(&format!("menu: {} failed: {error}", result.label));
                    }
                    out.menu.push(result);
                }
            }
            Err(error) => {
                say(&format!("menu: skipped: {error}"));
                out.menu_error = Some(error);
            }
        }
    }

    for &n in args.many_bots.iter().filter(|n| **n > 0) {
        for &fw in frameworks.iter().filter(|fw| fw.in_bulk_and_many()) {
            if fw != Fw::Ferrogram && n > args.many_peers_max {
                continue;
            }
            say(&format!("many bots: {n} in one {} process", fw.name()));
            out.many.push(many::many_bots(&ctx, fw, n, users[0]).await);
        }
    }

    out.args_menu = (args.menu_load, args.menu_seconds);
    out.elapsed = started.elapsed();
    let series = out.series();
    let chart_name = args.chart.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    std::fs::write(&args.chart, report::latency_svg("echo: reply latency against load", &series)).expect("chart");
    std::fs::write(&args.results, out.markdown(&ctx, &chart_name)).expect("results");
    say(&format!(
        "wrote {} and {} in {:.0} s",
        args.results.display(),
        args.chart.display(),
        out.elapsed.as_secs_f64()
    ));
    sandbox.stop().await.expect("sandbox stops");
}
