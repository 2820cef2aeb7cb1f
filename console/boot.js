// The console's entry: a file, not an inline script, so the console's Content-Security-Policy
// can forbid inline script altogether.
import init from './switchboard_console.js';
init();
