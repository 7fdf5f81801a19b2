"""Training recipes for the learned answer-sentence models (``rag train-answerer``).

Never imported on the query path: this package needs torch and ``../shared`` training data.
"""
