"""A stand-in for the Python ConnectHub's `app` package, put on sys.path by
`connecthub-worker --legacy-path` when the old code base has none, so that
`from app.jobs.base import BaseJob` keeps working."""
