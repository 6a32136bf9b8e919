"""``make smoke``: the registrar on a real account, end to end, opt-in.

``scenario`` holds the steps; ``account`` the calls (boto3, on any AWS) and the stacks on a
real account; ``dry_run`` prints the calls instead of making them. tests/test_smoke.py runs the
same scenario on the local AWS, the local CloudFormation driver standing in for stacks.
"""
