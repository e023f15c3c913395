//! The character network: co-occurrence within a window of lines, as JSON and as an HTML page.
