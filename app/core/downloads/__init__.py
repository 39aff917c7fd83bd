"""Downloads that resume and verify: the downloader, its HTTP reader, its records."""
