//! Bytes to text: BOM sniffing, UTF-16 with and without BOM, Windows-1252 fallback, binary refusal.
