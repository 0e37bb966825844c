"""hydrarec_minimal: the small package behind the HydraRec book.

One file per idea: ``attention`` (softmax, linear, Hydra), ``data`` (MovieLens),
``model`` (HydraRec), ``train``, ``metrics``, ``bench`` (runtime measurements); then
``plotting`` and ``widgets`` on top for the chapters. The core never imports the last two.
"""

__version__ = "0.1.0"
