"""Reader studies: blinded image sets for radiologists, a local web app, answer import, statistics.

``prepare`` builds a study from a finished run, ``app`` serves it to readers, ``importing`` reads
answers from the app's database or CSV files, ``statistics`` scores them and ``rows`` writes the
scores into the run's ``results.jsonl`` (metric names ``reader.*``). Importing this package
imports neither Flask nor torch.
"""
