//! SubRip parsing that survives what users upload.
