"""Valid creates plus a --malformed-share of bad requests that must get exactly the right error.

    locust -f locustfiles/error_path.py --host https://myapp.us-dev.janraincapture.com \
        --headless -u 20 -r 20 -t 1m --create-rate 20 --malformed-share 0.2

The bad requests (unparseable ``attributes``, schema violations) come from the fuzzing strategies
when they are installed, else from a built-in set. A "malformed" request counts as a success only
when the server answered the expected code with the right argument or attribute name; accepting
it, or answering another error, is a failure named after what happened.
"""

from loadgen.locust.users import ErrorPathUser, run_single


class ErrorPathCreator(ErrorPathUser):
    """Creates, of which a share are deliberately bad."""


if __name__ == "__main__":
    run_single(ErrorPathCreator)
