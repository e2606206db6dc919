"""What received activities do to this node's data, one module per kind of object
(``objects``: any object, ``offers``: an offer or demand in it), each used alike by an
activity applied alone (``federation/handlers.py``) and by a batch of them
(``batch``). Origin and ownership are checked by ``federation/trust.py``, once."""
