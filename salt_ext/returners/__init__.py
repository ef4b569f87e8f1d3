"""Salt returners of saltext-turnup (loader modules: thin shells over salt_ext.utils)."""
