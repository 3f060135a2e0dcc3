"""Conformance tests of kling_nb.sandbox over real HTTP on 127.0.0.1."""
