"""entity.bulkCreate of --bulk-size records at --bulk-rate requests/s across the whole swarm.

    locust -f locustfiles/bulk_create.py --host https://myapp.us-dev.janraincapture.com \
        --headless -u 10 -r 10 -t 2m --bulk-rate 2 --bulk-size 100

Every per-record error in a batch is counted by its code ("361 unique_violation"): records/s and
failed records by code are in the web UI's Capture tab and the headless "Capture:" line, while
Locust's own stats count requests.
"""

from loadgen.locust.users import BulkCreateUser, run_single


class BulkCreator(BulkCreateUser):
    """One batch of generated users per arrival."""


if __name__ == "__main__":
    run_single(BulkCreator)
