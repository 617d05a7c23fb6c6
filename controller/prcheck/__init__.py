"""`offerctl pr-check`: what a pull request will do, as a GitHub check run and a job summary.

`report` turns validation results, plans, estimated dates and sign-off facts
into GitHub's JSON and Markdown (pure); `github` sends them to the GitHub
REST API the operator named (`controller.signoff.operator`).
"""
