"""The four-eyes approval workflow of model versions (request -> approve/reject by an ML lead of the owning
team, never the requester): `selectors`, `services`, `views`, `api`. Its model `ApprovalRequest` is in
`registry_ui/models.py`; its pages are routed in `registry_ui/urls.py` (URL names `registry:*`)."""
