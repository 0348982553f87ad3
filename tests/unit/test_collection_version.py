"""The version a saved plan records is the collection's (galaxy.yml), which make release sets in both."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible_collections.m365.mailflow.plugins.module_utils import partner_work

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_saved_plans_record_the_galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        assert partner_work.COLLECTION_VERSION == yaml.safe_load(handle)["version"]
