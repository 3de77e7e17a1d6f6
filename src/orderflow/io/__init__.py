"""Formats: machines in and out of documents (SCXML), with a sandbox for their expressions.

The security model: a document is data.  Parsing never fetches anything
(``defusedxml`` refuses entity expansion and external entities) and never runs
code: every expression and script in a document is checked by
``orderflow.io.expressions`` when the document is loaded and then run by a
small restricted interpreter.  Full Python is available only with an explicit
``trusted=True``, for documents you wrote yourself.
"""
