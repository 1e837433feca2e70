"""The release or production package of a case: a BagIt bag of readable, native and replayable parts."""
