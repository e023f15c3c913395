//! The cast: the built-in list of the show's characters or an uploaded one, and name matching.
