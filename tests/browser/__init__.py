"""Browser tests of the web pages (a package, so their module names do not clash with tests/)."""
