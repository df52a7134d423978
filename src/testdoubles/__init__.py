"""Test doubles of Stash and CompreFace, synthetic faces, and a Stash-like plugin runner.

Used by the test suite, the benchmark and ``stash-compreface demo``; needs the ``test`` extras
(numpy, graphql-core, PyYAML). Never imported by the plugin itself, and not shipped in the plugin folder.
"""
