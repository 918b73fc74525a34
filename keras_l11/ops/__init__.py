"""Framework-light operations that two or more topics share (decoding, images)."""
