"""The verifier anyone can run: `sirekap audit verify URL --log-key VKEY`.

It trusts nothing the server says that it can check itself: the checkpoint's signatures, every
entry's bytes against the signed root, the log's history against what it saw last time, each
photo entry's device signature, and (through a hook) the published totals against a recount.
"""
