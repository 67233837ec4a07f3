// The dashboard's one CodeMirror 6 module (docs/dashboard.md, "The code view"): what
// editor.js imports, bundled by build.sh into codemirror.min.js. Nothing else of npm is used.
export { EditorView, basicSetup } from 'codemirror';
export { EditorState } from '@codemirror/state';
export { keymap } from '@codemirror/view';
export { yaml } from '@codemirror/lang-yaml';
export { linter, lintGutter, forceLinting, setDiagnostics } from '@codemirror/lint';
export { autocompletion } from '@codemirror/autocomplete';
export { syntaxTree } from '@codemirror/language';
