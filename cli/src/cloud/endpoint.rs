//! Which credentials go with an endpoint override (`--endpoint-url`, `AWS_ENDPOINT_URL`).
//!
//! The local AWS takes any credentials, so the CLI gives it fixed test ones; but an override may
//! also point at a VPC endpoint or a proxy in front of the real AWS, where fixed credentials would
//! be refused at best. So the fixed ones go only to a loopback address (127.0.0.0/8, `localhost`,
//! `[::1]`); any other endpoint gets the normal chain (environment, profile, SSO, instance role).
//! Either way one line on standard error says which endpoint and which credentials are in use.

use std::net::IpAddr;

/// Where the credentials of a call to an overridden endpoint come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The fixed test credentials of the local AWS.
    LocalTest,
    /// The normal chain: the environment's keys first, then the profile, SSO, the instance role.
    Chain {
        profile: Option<String>,
        /// AWS_ACCESS_KEY_ID is set: the chain takes the environment's keys before any profile.
        environment_keys: bool,
    },
}

/// The host of an endpoint URL (without brackets for IPv6), or why it is not an http(s) URL.
pub fn host(endpoint: &str) -> Result<&str, String> {
    let bad = || {
        format!(
            "--endpoint-url {endpoint} is not a URL: write it as http://127.0.0.1:5000 or https://<host>"
        )
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| bad())?;
    if !matches!(uri.scheme_str(), Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
    {
        return Err(bad());
    }
    let host = uri.host().ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    // The host borrowed from `endpoint`, not from the parsed value.
    let at = endpoint.find(host).ok_or_else(bad)?;
    Ok(&endpoint[at..at + host.len()])
}

/// Whether the endpoint is on this machine: 127.0.0.0/8, `localhost`, `::1` (also as an
/// IPv4-mapped address).
pub fn is_loopback(endpoint: &str) -> Result<bool, String> {
    let host = host(endpoint)?;
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(true);
    }
    Ok(match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    })
}

/// The credentials for an overridden endpoint.
pub fn credentials(
    endpoint: &str,
    profile: Option<&str>,
    environment_keys: bool,
) -> Result<Credentials, String> {
    if is_loopback(endpoint)? {
        Ok(Credentials::LocalTest)
    } else {
        Ok(Credentials::Chain {
            profile: profile.map(str::to_string),
            environment_keys,
        })
    }
}

/// The line on standard error naming the endpoint and the credentials.
pub fn note(endpoint: &str, credentials: &Credentials) -> String {
    let source = match credentials {
        Credentials::LocalTest => {
            "the fixed test credentials of the local AWS (a loopback endpoint)".to_string()
        }
        Credentials::Chain {
            environment_keys: true,
            ..
        } => "the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (not a loopback endpoint)"
            .to_string(),
        Credentials::Chain {
            profile: Some(profile),
            ..
        } => format!("the credentials of profile {profile} (not a loopback endpoint)"),
        Credentials::Chain { profile: None, .. } => {
            "the default credential chain: default profile, SSO, instance role (not a loopback endpoint)"
                .to_string()
        }
    };
    format!("hawkins: AWS endpoint {endpoint}, with {source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        for endpoint in [
            "http://127.0.0.1:5000",
            "http://127.10.0.3",
            "http://localhost:4566/",
            "https://LOCALHOST",
            "http://[::1]:5000",
            "http://[::ffff:127.0.0.1]:80",
            "http://user@127.0.0.1:5000/path",
        ] {
            assert_eq!(is_loopback(endpoint), Ok(true), "{endpoint}");
        }
        for endpoint in [
            "https://sagemaker.eu-west-1.amazonaws.com",
            "https://vpce-0abc.s3.eu-west-1.vpce.amazonaws.com",
            "http://10.0.0.5:5000",
            "http://128.0.0.1",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://[::2]:5000",
            "http://0.0.0.0:5000",
        ] {
            assert_eq!(is_loopback(endpoint), Ok(false), "{endpoint}");
        }
    }

    #[test]
    fn a_non_url_is_refused_with_an_example() {
        for endpoint in [
            "127.0.0.1:5000",
            "ftp://127.0.0.1",
            "http://",
            "http://[::1",
        ] {
            let error = is_loopback(endpoint).unwrap_err();
            assert!(
                error.contains("http://127.0.0.1:5000"),
                "{endpoint}: {error}"
            );
        }
    }

    #[test]
    fn only_a_loopback_endpoint_gets_the_fixed_credentials() {
        assert_eq!(
            credentials("http://127.0.0.1:5000", Some("prod"), true),
            Ok(Credentials::LocalTest)
        );
        assert_eq!(
            credentials("https://proxy.internal:8443", Some("prod"), false),
            Ok(Credentials::Chain {
                profile: Some("prod".into()),
                environment_keys: false
            })
        );
    }

    #[test]
    fn the_note_names_endpoint_and_credentials() {
        assert_eq!(
            note("http://127.0.0.1:5000", &Credentials::LocalTest),
            "hawkins: AWS endpoint http://127.0.0.1:5000, with the fixed test credentials of the local AWS (a loopback endpoint)"
        );
        let chain = |profile: Option<&str>, environment_keys| Credentials::Chain {
            profile: profile.map(str::to_string),
            environment_keys,
        };
        let proxy = "https://proxy.internal";
        assert!(
            note(proxy, &chain(Some("prod"), false))
                .ends_with("profile prod (not a loopback endpoint)")
        );
        assert!(note(proxy, &chain(Some("prod"), true)).contains("AWS_ACCESS_KEY_ID"));
        assert!(note(proxy, &chain(None, false)).contains("default credential chain"));
        assert!(!note(proxy, &chain(None, false)).contains('\n'));
    }
}
