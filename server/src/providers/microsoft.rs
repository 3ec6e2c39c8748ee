//! Microsoft Entra ID. A single-tenant app (`MICROSOFT_TENANT=<tenant id>`)
//! is a standard OpenID Connect provider. The multi-tenant endpoints
//! (`common`, `organizations`, `consumers`; `common` is the default) bend
//! the protocol: their discovery document names the issuer
//! `https://login.microsoftonline.com/{tenantid}/v2.0`, a template, and each
//! ID token's `iss` names the user's own tenant. Handled safely, that means:
//! the template must be exactly our issuer with the tenant segment replaced
//! by `{tenantid}`; the token's `tid` must look like a tenant id; and its
//! `iss` must be the template filled in with that `tid`. Accounts are then
//! keyed by the tenant's own issuer, so a subject in one tenant never
//! stands for a subject in another.

use super::{Preset, Protocol, ResponseMode};

pub const PRESET: Preset = Preset {
    issuer: "https://login.microsoftonline.com/common/v2.0",
    label: "Microsoft",
    protocol: Protocol::OidcMultiTenant,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/microsoft.svg"),
};

const PLACEHOLDER: &str = "{tenantid}";
const SHARED_TENANTS: [&str; 3] = ["common", "organizations", "consumers"];

/// The issuer for `tenant` (a tenant id, a domain, or a shared endpoint).
pub fn issuer_for(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// Whether `issuer` is a shared, multi-tenant endpoint
/// (`…/common/v2.0`, `…/organizations/v2.0` or `…/consumers/v2.0`).
pub fn is_multi_tenant(issuer: &str) -> bool {
    tenant_segment(issuer).is_some_and(|(_, tenant, _)| SHARED_TENANTS.contains(&tenant))
}

/// Splits `…/<tenant>/v2.0` into its three parts.
fn tenant_segment(issuer: &str) -> Option<(&str, &str, &str)> {
    let base = issuer.strip_suffix("/v2.0")?;
    let slash = base.rfind('/')?;
    Some((&base[..slash], &base[slash + 1..], "/v2.0"))
}

/// The issuer template discovery must announce for `issuer`.
pub fn issuer_template(issuer: &str) -> Option<String> {
    let (host, _, version) = tenant_segment(issuer)?;
    Some(format!("{host}/{PLACEHOLDER}{version}"))
}

/// The issuer a token from tenant `tid` must carry, if `tid` is a tenant
/// id (a GUID: hex digits and dashes, 36 characters).
pub fn issuer_of_tenant(template: &str, tid: &str) -> Option<String> {
    let is_guid = tid.len() == 36
        && tid.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    (is_guid && template.contains(PLACEHOLDER)).then(|| template.replace(PLACEHOLDER, tid))
}

/// The tenant id in `iss` if it is `template` filled in with one.
pub fn tenant_in<'a>(template: &str, iss: &'a str) -> Option<&'a str> {
    let (before, after) = template.split_once(PLACEHOLDER)?;
    let tid = iss.strip_prefix(before)?.strip_suffix(after)?;
    issuer_of_tenant(template, tid).map(|_| tid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration
    /// (the fields that matter here, in the shape Microsoft documents).
    const COMMON_DISCOVERY: &str =
        include_str!("../../tests/fixtures/microsoft/discovery-common.json");

    #[test]
    fn the_shared_endpoints_are_multi_tenant_and_a_tenant_is_not() {
        assert!(is_multi_tenant(PRESET.issuer));
        assert!(is_multi_tenant(&issuer_for("organizations")));
        assert!(is_multi_tenant(&issuer_for("consumers")));
        assert!(!is_multi_tenant(&issuer_for(
            "9188040d-6c67-4c5b-b112-36a304b66dad"
        )));
        assert!(!is_multi_tenant("https://accounts.google.com"));
    }

    #[test]
    fn the_recorded_discovery_document_announces_the_expected_template() {
        let doc: serde_json::Value = serde_json::from_str(COMMON_DISCOVERY).unwrap();
        assert_eq!(
            doc["issuer"].as_str(),
            issuer_template(PRESET.issuer).as_deref()
        );
        let metadata: crate::providers::oidc::Metadata =
            serde_json::from_str(COMMON_DISCOVERY).unwrap();
        assert!(
            metadata
                .jwks_uri()
                .as_str()
                .ends_with("/common/discovery/v2.0/keys")
        );
    }

    #[test]
    fn only_a_tenant_id_fills_the_template() {
        let template = issuer_template(PRESET.issuer).unwrap();
        assert_eq!(
            issuer_of_tenant(&template, "9188040d-6c67-4c5b-b112-36a304b66dad").as_deref(),
            Some("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")
        );
        for forged in [
            "",
            "common",
            "../../evil.test/x",
            "9188040d-6c67-4c5b-b112-36a304b66dax",
            "9188040d6c674c5bb11236a304b66dad----",
            "9188040d-6c67-4c5b-b112-36a304b66dad/",
        ] {
            assert_eq!(issuer_of_tenant(&template, forged), None, "{forged:?}");
        }
    }
}
