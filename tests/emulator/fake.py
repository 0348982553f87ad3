# -*- coding: utf-8 -*-
"""A minimal in-memory tenant for emulator tests: ``Emulator(..., backend=FakeTenant())``.

Generic Get-/New-/Set-/Remove-<Noun> on named objects, answers shaped by ``wire``. Not a model of Exchange
(that is ``SandboxTenant``); only enough to test transports, paging and faults.
"""

from __future__ import absolute_import, division, print_function

import threading
import uuid

from ansible_collections.m365.mailflow.plugins.module_utils import wire

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


class FakeTenant(object):
    def __init__(self, tenant_id=None, tenant_domain="contoso.onmicrosoft.com"):
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.tenant_domain = tenant_domain
        self.objects = {}  # noun (lower) -> list of dicts
        self.executed = []
        self._lock = threading.Lock()

    def add(self, noun, name, **props):
        obj = {"Name": name, "Identity": name, "Guid": str(uuid.uuid4())}
        obj.update(props)
        self.objects.setdefault(noun.lower(), []).append(obj)
        return obj

    def _find(self, noun, identity):
        for obj in self.objects.get(noun, []):
            if str(identity).lower() in (obj["Name"].lower(), obj["Guid"].lower()):
                return obj
        return None

    @staticmethod
    def _not_found(identity):
        return wire.json_response(404, wire.error_body(404, NOT_FOUND, "The operation couldn't be performed because object "
                                                       "'%s' couldn't be found." % identity, string_id="Ex6F9304"))

    def execute(self, cmdlet, parameters):
        params = dict((k.lower(), v) for k, v in (parameters or {}).items())
        verb, _unused, noun = cmdlet.lower().partition("-")
        with self._lock:
            self.executed.append((cmdlet, dict(parameters or {})))
            identity = params.get("identity")
            if verb == "get":
                if identity is None:
                    return wire.json_response(200, wire.success_body(list(self.objects.get(noun, [])), self.tenant_id))
                obj = self._find(noun, identity)
                return wire.json_response(200, wire.success_body([obj], self.tenant_id)) if obj else self._not_found(identity)
            if verb == "new":
                if self._find(noun, params.get("name", "")):
                    return wire.json_response(400, wire.error_body(400, "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                                                                   "An object named '%s' already exists." % params.get("name")))
                props = dict((k, v) for k, v in parameters.items() if k.lower() != "name")
                obj = self.add(noun, params.get("name", "unnamed"), **props)
                return wire.json_response(200, wire.success_body([obj], self.tenant_id))
            if verb in ("set", "remove"):
                obj = self._find(noun, identity)
                if obj is None:
                    return self._not_found(identity)
                if verb == "remove":
                    self.objects[noun].remove(obj)
                else:
                    obj.update((k, v) for k, v in parameters.items() if k.lower() != "identity")
                return wire.json_response(200, wire.success_body([], self.tenant_id))
        return wire.RawResponse(403, {"Content-Encoding": "gzip"}, b"\x00" * 64)


def client_settings(emulator, credential="certificate", **overrides):
    """TokenProvider / RestTransport settings for the emulator's registered app.

    ``credential``: "certificate" (PEM), "encrypted_pem", "pfx", "secret" or "access_token".
    """
    settings = {"tenant": emulator.tenant_id, "client_id": emulator.app["client_id"], "cloud": "commercial",
                "api_url": emulator.url, "authority": emulator.url, "ca_path": emulator.ca_path, "validate_certs": True,
                "timeout": 30, "token_cache": False}
    if credential == "certificate":
        settings["certificate_path"] = emulator.app["certificate_path"]
    elif credential == "encrypted_pem":
        settings.update(certificate_path=emulator.app["encrypted_certificate_path"],
                        certificate_password=emulator.app["certificate_password"])
    elif credential == "pfx":
        settings.update(certificate_path=emulator.app["pfx_path"], certificate_password=emulator.app["certificate_password"])
    elif credential == "secret":
        settings["client_secret"] = emulator.app["client_secret"]
    elif credential == "access_token":
        settings["access_token"] = emulator.issue_token()
    else:
        raise ValueError(credential)
    settings.update(overrides)
    return settings
