# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python libraries of Entra ID authentication (msal, requests, cryptography), imported on first need.

A task that finds a valid token in the cache file needs none of them, which keeps a no-op task as fast as a plain
HTTP call: ``load()`` imports them, ``require(*names)`` raises a DependencyError naming what is missing, and the
modules are then the attributes ``msal``, ``requests``, ``x509``, ``hashes``, ``serialization``, ``pkcs12`` of this
module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging

from ansible_collections.m365.mailflow.plugins.module_utils.errors import DependencyError

msal = requests = x509 = hashes = serialization = pkcs12 = None

# The oldest msal with ManagedIdentityClient (msal 1.29.0, https://learn.microsoft.com/entra/msal/python/advanced/
# managed-identity); also the floor of meta/requirements.txt and of the connection doc fragment's requirements.
MSAL_FLOOR = "1.29.0"

INSTALL_HINT = "install it on the host that runs the module: pip install -r requirements.txt (or pip install msal cryptography requests)"


class MsalServiceError(Exception):
    """Stands for msal.exceptions.MsalServiceError until msal is imported (then it is that class)."""


class ManagedIdentityError(ValueError):
    """Stands for msal.ManagedIdentityError until msal is imported (then it is that class, a ValueError too)."""


HAS_MSAL = HAS_REQUESTS = HAS_CRYPTOGRAPHY = True  # until an import says otherwise
_IMPORTED = False


def load():
    global msal, requests, x509, hashes, serialization, pkcs12, HAS_MSAL, HAS_REQUESTS, HAS_CRYPTOGRAPHY, _IMPORTED
    global MsalServiceError, ManagedIdentityError
    if _IMPORTED:
        return
    _IMPORTED = True
    try:
        import msal as _msal
        msal = _msal
    except ImportError:
        HAS_MSAL = False
    else:
        # msal logs a failed token answer with its traceback; without a handler of the caller's, Python's last-resort
        # handler would print it on stderr. The failure is reported through our own error instead.
        logging.getLogger("msal").addHandler(logging.NullHandler())
        try:
            from msal.exceptions import MsalServiceError as _MsalServiceError
            MsalServiceError = _MsalServiceError
        except ImportError:  # pragma: no cover - every msal release we support has it
            pass
        ManagedIdentityError = getattr(_msal, "ManagedIdentityError", ManagedIdentityError)
    try:
        import requests as _requests
        requests = _requests
    except ImportError:
        HAS_REQUESTS = False
    try:
        from cryptography import x509 as _x509
        from cryptography.hazmat.primitives import hashes as _hashes, serialization as _serialization
        from cryptography.hazmat.primitives.serialization import pkcs12 as _pkcs12
        x509, hashes, serialization, pkcs12 = _x509, _hashes, _serialization, _pkcs12
    except ImportError:
        HAS_CRYPTOGRAPHY = False


def require(*names):
    """Raise DependencyError naming the missing ones among msal, requests, cryptography."""
    load()
    flags = {"msal": HAS_MSAL, "requests": HAS_REQUESTS, "cryptography": HAS_CRYPTOGRAPHY}
    missing = [name for name in names if not flags[name]]
    if missing:
        raise DependencyError("The Python librar%s %s needed for Entra ID authentication %s not installed: %s."
                              % ("ies" if len(missing) > 1 else "y", " and ".join(missing),
                                 "are" if len(missing) > 1 else "is", INSTALL_HINT))


def require_managed_identity(option):
    """msal with ManagedIdentityClient (1.29 or later), or a DependencyError naming ``option`` and the version."""
    require("msal", "requests")
    if not hasattr(msal, "ManagedIdentityClient"):
        raise DependencyError(
            "%s needs msal %s or later (ManagedIdentityClient); this host has msal %s. Upgrade it on the host that "
            "runs the module: pip install 'msal>=%s' (or pip install -r requirements.txt)."
            % (option, MSAL_FLOOR, getattr(msal, "__version__", "of an unknown version"), MSAL_FLOOR))
