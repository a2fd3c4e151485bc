// The entry of a page the browser draws: the app, started at once. (A page the server rendered
// comes with src/hydrate.tsx instead.)
import './index.css';
import './app/start';
