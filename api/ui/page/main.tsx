import { render } from 'preact';
import { App } from './app';
import './styles.css';

/** The web page's entry: bundled by api/ui-build.ts and served at /ui/assets/app.js. */
const root = document.getElementById('app');
if (root) render(<App />, root);
