"""entity.create and entity.bulkCreate together, each at its own swarm-wide rate.

    locust -f locustfiles/mixed.py --host https://myapp.us-dev.janraincapture.com \
        --headless -u 40 -r 40 -t 5m --create-rate 50 --bulk-rate 2 --bulk-size 100

With --stages, the targets are create requests/s and bulkCreate keeps its ratio
(--bulk-rate / --create-rate); the run ends when the last stage does.
"""

from loadgen.locust.users import MixedUser, run_single


class Mixed(MixedUser):
    """A concurrency slot that sends whichever arrival is due first, create or bulkCreate."""


if __name__ == "__main__":
    run_single(Mixed)
