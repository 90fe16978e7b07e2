"""PAT soft sensors: spectral preprocessing, PLS calibration with components chosen by
cross-validation, an applicability domain (T2/SPE) and streaming predictions as tags.

* :mod:`.preprocess`: SNV, MSC, Savitzky-Golay smoothing and derivatives, centring,
  scaling, as a pipeline written ``"snv,sg1"``;
* :mod:`.calibration`: one PLS1 model per response, folds and the one-standard-error rule;
* :mod:`.domain`: Hotelling T2 and SPE of a spectrum with their limits;
* :mod:`.model`: :class:`SoftSensor` (model family ``"softsensor"``);
* :mod:`.stream`: :class:`SoftSensorStream`, predictions as tag values.
"""

from phactory.lazy import exports

__getattr__, __dir__ = exports(
    __name__,
    {
        "SoftSensor": "model",
        "SoftSensorPrediction": "model",
        "SoftSensorStream": "stream",
        "TagValue": "stream",
        "parse_pipeline": "preprocess",
    },
)
