"""Background jobs, beside the pipeline: report PDFs, the portfolio PDF and batches of site
reports rendered by a worker (`peerready worker`) instead of inside a request.

- models.py   the `job` table (status, progress, result, error, lock key) and `joblock` leases
- store.py    every query on them; each status change is one conditional UPDATE
- queue.py    the only module that knows the queue library (huey): storage from Settings,
              enqueue, the consumer (`peerready worker`) and burst mode (`--burst`)
- runner.py   runs one job: claim, progress, cancel/timeout/shutdown between steps, outcome
- registry.py job kinds (prepare + run); kinds/ holds the built-in ones
- service.py  what routes and services call: start, start_after_commit, get, cancel, retry,
              result_file, as_dict
"""
