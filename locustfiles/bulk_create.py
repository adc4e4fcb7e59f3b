"""entity.bulkCreate of --bulk-size records at --bulk-rate requests/s across the whole swarm.

    locust -f locustfiles/bulk_create.py --host https://myapp.us-dev.janraincapture.com \
        --headless -u 10 -r 10 -t 2m --bulk-rate 2 --bulk-size 100

Every per-record error in a batch is counted: the "RECORDS bulkCreate records" row counts one
success per record created (its req/s is records/s) and one failure per record refused, named by
its code ("361 unique_violation").
"""

from locust import run_single_user

from loadgen.locust.users import BulkCreateUser


class BulkCreator(BulkCreateUser):
    """One batch of generated users per arrival."""


if __name__ == "__main__":
    run_single_user(BulkCreator)
