"""hydrarec_minimal: the small package behind the HydraRec book.

One file per idea (ARCHITECTURE.md has the map): ``shapes``, ``machine``, ``data``,
``fused``, ``attention``, ``model``, ``metrics``, ``runs``, ``baselines``, ``train``,
``bench``, ``costs`` form the headless core; ``plotting`` and ``widgets`` sit on top for the
chapters. The core never imports those two.
"""

__version__ = "0.2.0"
