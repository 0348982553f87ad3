# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options shared by every m365.mailflow module."""

    DOCUMENTATION = r"""
options:
  tenant:
    description:
      - The Exchange Online tenant, as its tenant ID (a GUID, preferred) or a verified domain such as
        C(contoso.onmicrosoft.com).
      - Required unless O(sandbox) is set; mutually exclusive with O(sandbox).
      - If not set, the value of the E(EXO_TENANT) environment variable is used.
    type: str
  client_id:
    description:
      - Application (client) ID of the Entra ID app registration used for app-only access, a GUID (shown on the app's
        Overview page). Anything else is refused before a token is requested. Needed with O(certificate_path),
        O(client_secret), O(federated_token_file) and O(federated_token); not with O(managed_identity).
      - The app needs the C(Exchange.ManageAsApp) application permission of C(Office 365 Exchange Online) with
        admin consent, and its service principal needs an Exchange role (see the README).
      - If not set, the value of the E(EXO_CLIENT_ID) environment variable is used.
    type: str
  certificate_path:
    description:
      - Path of the app's certificate with its private key, either a PEM file (certificate and key, the key
        optionally encrypted) or a PFX/PKCS#12 file. Loaded with the C(cryptography) library; no OS certificate
        store is used.
      - The certificate must be valid now by this host's clock. An expired or not yet valid certificate is refused
        before it is sent to the token endpoint, with its validity dates; renew it and upload the new certificate to
        the app registration.
      - Mutually exclusive with the other credentials (O(client_secret), O(access_token), O(managed_identity),
        O(federated_token_file), O(federated_token)).
      - If not set, the value of the E(EXO_CERTIFICATE_PATH) environment variable is used.
    type: path
  certificate_password:
    description:
      - Password of the private key in O(certificate_path), if it has one.
      - If not set, the value of the E(EXO_CERTIFICATE_PASSWORD) environment variable is used.
    type: str
  client_secret:
    description:
      - Client secret of the app registration.
      - Microsoft documents only certificate authentication for Exchange Online app-only access; secrets work in
        practice but are unsupported and Microsoft could stop accepting them. Prefer O(certificate_path).
      - If not set, the value of the E(EXO_CLIENT_SECRET) environment variable is used.
    type: str
  access_token:
    description:
      - An access token for Exchange Online obtained elsewhere (audience C(https://outlook.office365.com) or the
        O(cloud) equivalent). Used as given; it cannot be refreshed, so a long play may outlive it.
      - If not set, the value of the E(EXO_ACCESS_TOKEN) environment variable is used.
    type: str
  managed_identity:
    description:
      - Authenticate as the Azure managed identity of the host the module runs on, without any secret. V(system) for
        the host's system-assigned identity, or the client ID (a GUID, from the identity's Overview page; not its
        object ID) of a user-assigned identity assigned to the host.
      - The token comes from the identity endpoint of the environment, found as msal finds it (msal 1.29 or later), in
        App Service, Azure Functions and Azure Automation (E(IDENTITY_ENDPOINT) and E(IDENTITY_HEADER)), Service
        Fabric (also E(IDENTITY_SERVER_THUMBPRINT); the application's identity is the one configured in the cluster),
        Azure Machine Learning (E(MSI_ENDPOINT) and E(MSI_SECRET)), Azure Arc servers (the Connected Machine agent),
        otherwise the Instance Metadata Service of an Azure VM or scale set. In Azure Cloud Shell, V(system) gives the
        signed-in user's own token.
      - The resource asked for is the Exchange Online host of O(cloud). O(tenant) is still required (the tenant the
        identity belongs to). The identity's service principal needs the C(Exchange.ManageAsApp) app role and an
        Exchange role, like an app registration (see the connecting-a-tenant guide).
      - A token answered for another identity than the user-assigned one asked for is refused.
      - Mutually exclusive with the other credentials and with O(client_id).
      - If not set, the value of the E(EXO_MANAGED_IDENTITY) environment variable is used.
    type: str
    version_added: 0.2.0
  federated_token_file:
    description:
      - Workload identity federation. The path of a file holding a token of another identity provider (a JWT), which
        is presented to Entra ID as the client assertion of the app registration O(client_id). Entra ID accepts it
        when a federated credential of the app matches its issuer, subject and audience.
      - The file is read again for every token request, so a token rotated by its writer (the kubelet in AKS) is
        picked up.
      - In AKS with workload identity, when no credential option is set (nor its E(EXO_*) variable), the variables
        the webhook injects are used instead (E(AZURE_FEDERATED_TOKEN_FILE), E(AZURE_CLIENT_ID) for O(client_id)
        and E(AZURE_TENANT_ID) for O(tenant) when those are not set), and the task warns that it did.
      - Mutually exclusive with the other credentials.
      - If not set, the value of the E(EXO_FEDERATED_TOKEN_FILE) environment variable is used.
    type: path
    version_added: 0.2.0
  federated_token:
    description:
      - Workload identity federation with a token fetched by the module for every token request. The one source is
        V(github_actions), which asks GitHub Actions for the job's OIDC token (E(ACTIONS_ID_TOKEN_REQUEST_URL) with the bearer
        E(ACTIONS_ID_TOKEN_REQUEST_TOKEN), audience C(api://AzureADTokenExchange)).
      - "GitHub sets those variables only in a job with C(permissions: id-token: write)."
      - Used with O(client_id) and O(tenant) like O(federated_token_file).
      - Mutually exclusive with the other credentials.
      - If not set, the value of the E(EXO_FEDERATED_TOKEN) environment variable is used.
    type: str
    version_added: 0.2.0
  cloud:
    description:
      - The Microsoft cloud of the tenant. Selects the REST host, the token authority and the token scope.
      - V(commercial) (also GCC) uses C(outlook.office365.com) and C(login.microsoftonline.com);
        V(gcc_high) uses C(outlook.office365.us) and C(login.microsoftonline.us);
        V(dod) uses C(outlook-dod.office365.us) and C(login.microsoftonline.us);
        V(china) (21Vianet) uses C(partner.outlook.cn) and C(login.chinacloudapi.cn).
      - If not set, the value of the E(EXO_CLOUD) environment variable is used.
    type: str
    choices: [commercial, gcc_high, dod, china]
    default: commercial
  api_url:
    description:
      - Overrides the REST base URL (scheme and host, e.g. V(https://127.0.0.1:8443)). The token scope still
        follows O(cloud). Meant for tests and proxies.
      - If not set, the value of the E(EXO_API_URL) environment variable is used.
    type: str
  authority_url:
    description:
      - Overrides the Entra ID authority host (scheme and host) used to obtain tokens. Meant for tests
        against a local token endpoint; authority validation is then switched off. A managed identity gets its
        token from the identity endpoint of the host instead.
      - If not set, the value of the E(EXO_AUTHORITY_URL) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the API and token endpoints.
      - Only switch this off for a test endpoint set with O(api_url) and O(authority_url). When it is off, every task
        warns that whoever can intercept the connection can read the credential and the token. To trust a private CA
        (a test CA, a TLS-inspecting proxy), set O(ca_path) instead and leave this on.
      - If not set, the value of the E(EXO_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM file) to verify the API and token endpoints with, instead of the system store.
      - Checked before any call; a path that does not exist, is not a file, or holds no PEM CA certificate is refused.
      - If not set, the value of the E(EXO_CA_PATH) environment variable is used.
    type: path
  token_cache:
    description:
      - Cache tokens between tasks in a file readable only by the user (mode 0600) under
        C($XDG_CACHE_HOME/m365.mailflow/) (default C(~/.cache/m365.mailflow/)), one file per identity (cloud,
        tenant and app, or the managed identity and its endpoint), so a play requests a token once. Set to V(false) to
        keep tokens in memory only.
      - If not set, the value of the E(EXO_TOKEN_CACHE) environment variable is used.
    type: bool
    default: true
  sandbox:
    description:
      - Path of a sandbox tenant state file (SQLite). When set, the module manages an embedded sandbox tenant that
        behaves like Exchange Online, created on first use, and no credentials are needed.
      - An absolute path (C(~) is expanded). A relative path is refused because Ansible runs a module in the
        playbook's directory, not in the directory C(ansible-playbook) was started from; the onboarding and
        offboarding playbooks make a relative path absolute against the latter.
      - A path that does not exist or an empty file becomes a new sandbox tenant. A directory, a file that cannot be
        read and written, a file that is not an SQLite database and an SQLite database of something else are
        refused and left untouched.
      - Mutually exclusive with O(tenant), the credential options, O(api_url) and O(authority_url).
      - If not set, the value of the E(EXO_SANDBOX) environment variable is used.
    type: path
  retries:
    description:
      - How many times a throttled (HTTP 429) or transiently failed (HTTP 500/503/504, busy directory) call is
        retried, 0 or more. A failed write is only sent again after reading the tenant shows it did not take effect.
      - If not set, the value of the E(EXO_RETRIES) environment variable is used.
    type: int
    default: 5
  retry_delay:
    description:
      - Base of the exponential backoff between retries, in seconds (2, 4, 8, ... for the default), 0 or more. A
        429 waits what its C(Retry-After) header says.
      - If not set, the value of the E(EXO_RETRY_DELAY) environment variable is used.
    type: float
    default: 2.0
  timeout:
    description:
      - HTTP timeout of one call, in seconds, 1 or more. Exchange Online itself stops a cmdlet after about 900
        seconds.
      - If not set, the value of the E(EXO_TIMEOUT) environment variable is used.
    type: int
    default: 960
notes:
  - Calls go to the Exchange Online REST C(InvokeCommand) endpoint that the ExchangeOnlineManagement PowerShell
    module uses. Microsoft does not document it for third parties; its behaviour was learned from the module and
    from live captures, and may change.
requirements:
  - msal >= 1.29.0, requests and cryptography (Entra ID authentication), not needed with O(sandbox) or O(access_token)
"""
