"""entity.create at a fixed rate across the whole swarm, outcomes judged by the response body.

    export CAPTURE_CLIENT_ID=... CAPTURE_CLIENT_SECRET=...
    locust -f locustfiles/create.py --host https://myapp.us-dev.janraincapture.com \
        --headless -u 20 -r 20 -t 2m --create-rate 100

``--create-rate`` is requests/s for the whole swarm, whatever -u or the number of workers; -u only
caps the concurrency (raise it if the Capture tab shows dropped arrivals). See ``locust --help`` for the
other Capture options (--stages, --max-records, --capture-auth, --seed...).
"""

from loadgen.locust.users import CreateUser, run_single


class Creator(CreateUser):
    """One generated user per arrival."""


if __name__ == "__main__":
    run_single(Creator)
