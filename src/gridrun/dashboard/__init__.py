"""`grid view`: a local, read-only web dashboard over the store."""
