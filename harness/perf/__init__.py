"""Workloads for measuring the engines: the program generators that the
pytest-benchmark suites in ``bench/`` and the scale tests share
(:mod:`.workloads`), and the long churn soak behind ``make soak``
(:mod:`.soak`)."""
