"""Salt runners of saltext-turnup (loader modules: thin shells over salt_ext.utils)."""
