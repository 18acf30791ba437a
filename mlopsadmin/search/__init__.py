"""The top bar's search across the registry, the catalog and MLflow runs.

- `selectors.py`: what a query finds (models, versions, experiments, run ids), filtered by policy.py;
- `views.py`, `urls.py`: the results page `/search/?q=…`.
"""
