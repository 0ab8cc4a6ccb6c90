#!/usr/bin/env bash
# Writes a coturn (turnserver) configuration that matches the ecomansoni server's TURN settings.
# Run `scripts/turn/coturn.conf.sh --help` for the options.
set -euo pipefail

prog=${0##*/}

usage() {
    cat <<EOF
Usage: $prog [options]

Writes a coturn (turnserver) configuration file matching the ecomansoni server's TURN
settings, so that the credentials the server mints (POST /functions/v1/turn-credentials and
the iceServers of ROOM_JOIN_OK) are accepted by coturn and nothing else is.

It reads the same environment variables as the server:
  TURN_SHARED_SECRET  required. The shared secret of coturn's REST scheme: the server signs
                      usernames with it, coturn checks them with it (use-auth-secret +
                      static-auth-secret). Must not contain whitespace or control characters.
  TURN_URLS           optional. Comma-separated turn:/turns:/stun: URLs handed to clients,
                      e.g. "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp".
                      The listening port is the port of the first turn: URL (else of the first
                      stun: URL, else 3478), the TLS listening port that of the first turns:
                      URL (else 5349), and the realm defaults to the host of the first
                      turn:/turns: URL when that host is a name rather than an address.
  TURN_REALM          optional. The realm (overrides the one derived from TURN_URLS;
                      default "ecomansoni"). Clients learn it from coturn, so any value works.
  TURN_TTL_SECONDS    not used by coturn (the expiry is inside each username); documented
                      here because coturn rejects credentials once that expiry has passed.

The configuration always has: use-auth-secret, static-auth-secret, realm, fingerprint,
no-cli, no-multicast-peers, no-software-attribute, no-rfc5780,
no-stun-backward-compatibility, stale-nonce, and never lt-cred-mech or no-auth. Without
--cert/--pkey the TLS and DTLS listeners are off (no-tls, no-dtls); with them TLS 1.0
and 1.1 are (no-tlsv1, no-tlsv1_1).

In production mode (the default) every private, loopback, link-local, CGNAT, benchmark,
documentation, multicast and reserved range (IPv4 and IPv6, including IPv4-mapped and
NAT64 addresses) is a denied-peer-ip, so the relay cannot be used to reach the TURN host
or its internal network.

Options:
  -o, --output FILE         write to FILE (created with mode 0600: it holds the secret)
                            instead of standard output
  --dev, --allow-loopback   for local tests: allow-loopback-peers and no denial of
                            127.0.0.0/8 and ::1 (every other range stays denied); listens
                            and relays on 127.0.0.1 unless --listening-ip/--relay-ip say
                            otherwise
  --listening-ip IP         address to listen on (repeatable; default: every interface,
                            in --dev mode 127.0.0.1)
  --relay-ip IP             local address relay sockets are bound to (repeatable; default:
                            chosen by coturn, in --dev mode 127.0.0.1)
  --external-ip IP[/PRIV]   public address reported for relays when behind 1:1 NAT
                            (repeatable; "PUBLIC/PRIVATE" maps one relay address)
  --listening-port PORT     plain UDP/TCP port (overrides the one derived from TURN_URLS)
  --tls-listening-port PORT TLS/DTLS port (overrides the one derived from TURN_URLS)
  --min-port PORT           lowest relay port (default 49152)
  --max-port PORT           highest relay port (default 65535)
  --realm REALM             the realm (overrides TURN_REALM and TURN_URLS)
  --cert FILE               TLS certificate chain, PEM (enables TLS/DTLS with --pkey)
  --pkey FILE               TLS private key, PEM
  --allow-peer-ip RANGE     an allowed-peer-ip exception to the denied ranges, "IP" or
                            "IP-IP" (repeatable; e.g. a media server on a private network)
  --user-quota N            concurrent allocations per username (default: unlimited)
  --total-quota N           concurrent allocations in total (default: unlimited)
  --max-bps N               bytes per second per session (default: unlimited)
  --log-file FILE           log file ("stdout" and "syslog" are special; default: coturn's)
  --pidfile FILE            pid file (default: coturn's)
  --userdb FILE             coturn's SQLite database (default: coturn's). Not needed for the
                            REST scheme, but coturn opens it; tests point it at a temp dir
  --verbose                 verbose logging
  -h, --help                this help

Run it with:  turnserver -c FILE   (coturn reads only that file; add -o to daemonize)

Examples:
  TURN_SHARED_SECRET=\$(openssl rand -hex 32) TURN_URLS=turn:turn.example.com:3478 \\
      $prog --relay-ip 10.0.0.5 --external-ip 203.0.113.7/10.0.0.5 \\
      --cert /etc/ssl/turn/fullchain.pem --pkey /etc/ssl/turn/privkey.pem -o /etc/turnserver.conf
  TURN_SHARED_SECRET=test-secret $prog --dev --listening-port 34780 --min-port 40000 --max-port 40100
EOF
}

die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 2
}

warn() {
    printf '%s: warning: %s\n' "$prog" "$*" >&2
}

need_value() {
    # $1 option name, $2 number of remaining arguments (including the option)
    [ "$2" -ge 2 ] || die "option $1 needs a value"
}

check_port() {
    case $2 in
        '' | *[!0-9]*) die "$1: not a port number: '$2'" ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then die "$1: port out of range: $2"; fi
}

check_count() {
    case $2 in
        '' | *[!0-9]*) die "$1: not a non-negative integer: '$2'" ;;
    esac
}

check_word() {
    # A value that goes into the configuration file: one line, no whitespace.
    case $2 in
        '') die "$1: empty value" ;;
        *[[:space:]]* | *[[:cntrl:]]*) die "$1: must not contain whitespace or control characters" ;;
    esac
}

output=
dev=0
listening_ips=()
relay_ips=()
external_ips=()
allowed_peers=()
listening_port=
tls_listening_port=
min_port=49152
max_port=65535
realm=
cert=
pkey=
user_quota=
total_quota=
max_bps=
log_file=
pidfile=
userdb=
verbose=0

while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
        --*=*)
            # --name=value is the same as --name value.
            set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
            continue
            ;;
    esac
    case $opt in
        -h | --help) usage; exit 0 ;;
        -o | --output) need_value "$opt" $#; output=$2; shift ;;
        --dev | --allow-loopback) dev=1 ;;
        --listening-ip) need_value "$opt" $#; check_word "$opt" "$2"; listening_ips+=("$2"); shift ;;
        --relay-ip) need_value "$opt" $#; check_word "$opt" "$2"; relay_ips+=("$2"); shift ;;
        --external-ip) need_value "$opt" $#; check_word "$opt" "$2"; external_ips+=("$2"); shift ;;
        --allow-peer-ip) need_value "$opt" $#; check_word "$opt" "$2"; allowed_peers+=("$2"); shift ;;
        --listening-port) need_value "$opt" $#; check_port "$opt" "$2"; listening_port=$2; shift ;;
        --tls-listening-port) need_value "$opt" $#; check_port "$opt" "$2"; tls_listening_port=$2; shift ;;
        --min-port) need_value "$opt" $#; check_port "$opt" "$2"; min_port=$2; shift ;;
        --max-port) need_value "$opt" $#; check_port "$opt" "$2"; max_port=$2; shift ;;
        --realm) need_value "$opt" $#; check_word "$opt" "$2"; realm=$2; shift ;;
        --cert) need_value "$opt" $#; check_word "$opt" "$2"; cert=$2; shift ;;
        --pkey) need_value "$opt" $#; check_word "$opt" "$2"; pkey=$2; shift ;;
        --user-quota) need_value "$opt" $#; check_count "$opt" "$2"; user_quota=$2; shift ;;
        --total-quota) need_value "$opt" $#; check_count "$opt" "$2"; total_quota=$2; shift ;;
        --max-bps) need_value "$opt" $#; check_count "$opt" "$2"; max_bps=$2; shift ;;
        --log-file) need_value "$opt" $#; check_word "$opt" "$2"; log_file=$2; shift ;;
        --pidfile) need_value "$opt" $#; check_word "$opt" "$2"; pidfile=$2; shift ;;
        --userdb) need_value "$opt" $#; check_word "$opt" "$2"; userdb=$2; shift ;;
        --verbose) verbose=1 ;;
        *) die "unknown option: $opt (see --help)" ;;
    esac
    shift
done

[ "$min_port" -le "$max_port" ] || die "--min-port ($min_port) is above --max-port ($max_port)"
if [ -n "$cert" ] && [ -z "$pkey" ]; then die "--cert needs --pkey"; fi
if [ -z "$cert" ] && [ -n "$pkey" ]; then die "--pkey needs --cert"; fi

# ------------------------------------------------------------------ the secret

secret=${TURN_SHARED_SECRET:-}
[ -n "$secret" ] || die "TURN_SHARED_SECRET is not set (the server's shared secret for TURN credentials)"
case $secret in
    *[[:space:]]* | *[[:cntrl:]]*) die "TURN_SHARED_SECRET must not contain whitespace or control characters" ;;
esac
if [ "$dev" -eq 0 ] && [ "${#secret}" -lt 32 ]; then
    warn "TURN_SHARED_SECRET is shorter than 32 characters; use e.g. \`openssl rand -hex 32\`"
fi

# ------------------------------------------------------------------ TURN_URLS

url_port=
url_tls_port=
stun_port=
url_realm=
has_turns=0
plain_ports=()

# Splits one URL into scheme, host and port (port empty when absent); returns 1 if malformed.
parse_url() {
    local url=$1 rest hostport
    u_scheme=${url%%:*}
    [ "$u_scheme" != "$url" ] || return 1
    rest=${url#*:}
    rest=${rest#//}
    hostport=${rest%%\?*}
    case $hostport in
        \[*\]:*) u_host=${hostport%%]*}]; u_port=${hostport##*]:} ;;
        \[*\]) u_host=$hostport; u_port= ;;
        *:*) u_host=${hostport%%:*}; u_port=${hostport#*:} ;;
        *) u_host=$hostport; u_port= ;;
    esac
    [ -n "$u_host" ] || return 1
    case $u_port in
        *[!0-9]*) return 1 ;;
    esac
    return 0
}

is_hostname() {
    # Not an IPv4 address and not a bracketed IPv6 address.
    case $1 in
        \[*) return 1 ;;
        *[!0-9.]*) return 0 ;;
        *) return 1 ;;
    esac
}

IFS=',' read -r -a urls <<<"${TURN_URLS:-}"
for raw in "${urls[@]}"; do
    url=$(printf '%s' "$raw" | tr -d '[:space:]')
    [ -n "$url" ] || continue
    parse_url "$url" || die "TURN_URLS: malformed URL '$url'"
    case $u_scheme in
        turn)
            port=${u_port:-3478}
            plain_ports+=("$port")
            [ -n "$url_port" ] || url_port=$port
            if [ -z "$url_realm" ] && is_hostname "$u_host"; then url_realm=$u_host; fi
            ;;
        turns)
            has_turns=1
            [ -n "$url_tls_port" ] || url_tls_port=${u_port:-5349}
            if [ -z "$url_realm" ] && is_hostname "$u_host"; then url_realm=$u_host; fi
            ;;
        stun)
            port=${u_port:-3478}
            plain_ports+=("$port")
            [ -n "$stun_port" ] || stun_port=$port
            ;;
        stuns)
            [ -n "$url_tls_port" ] || url_tls_port=${u_port:-5349}
            ;;
        *) die "TURN_URLS: unsupported scheme '$u_scheme' in '$url' (turn:, turns:, stun: only)" ;;
    esac
done

[ -n "$url_port" ] || url_port=${stun_port:-3478}
[ -n "$listening_port" ] || listening_port=$url_port
[ -n "$tls_listening_port" ] || tls_listening_port=${url_tls_port:-5349}
for port in "${plain_ports[@]}"; do
    if [ "$port" != "$listening_port" ]; then
        warn "TURN_URLS names port $port but coturn will listen on $listening_port only"
    fi
done
if [ "$has_turns" -eq 1 ] && [ -z "$cert" ]; then
    warn "TURN_URLS has turns: URLs but no --cert/--pkey were given: TLS is off and those URLs will not work"
fi
[ -n "$realm" ] || realm=${TURN_REALM:-}
[ -n "$realm" ] || realm=${url_realm:-ecomansoni}
check_word "realm" "$realm"

if [ "$dev" -eq 1 ]; then
    [ "${#listening_ips[@]}" -gt 0 ] || listening_ips=(127.0.0.1)
    [ "${#relay_ips[@]}" -gt 0 ] || relay_ips=(127.0.0.1)
fi

# ------------------------------------------------------------------ peer address policy

# Ranges a relay must never reach in production. Loopback ones are marked so --dev can drop them.
# Every range is CIDR-aligned (coturn compares IPv6 addresses byte by byte, which is only
# right for such ranges), and none starts at "::": coturn treats a range whose lower bound is
# the unspecified address "::" as matching every address, IPv4 included.
denied_ranges() {
    cat <<'EOF'
0.0.0.0-0.255.255.255 "this" network
10.0.0.0-10.255.255.255 private (RFC 1918)
100.64.0.0-100.127.255.255 carrier-grade NAT (RFC 6598)
127.0.0.0-127.255.255.255 loopback
169.254.0.0-169.254.255.255 link-local (and cloud metadata services)
172.16.0.0-172.31.255.255 private (RFC 1918)
192.0.0.0-192.0.0.255 IETF protocol assignments
192.0.2.0-192.0.2.255 documentation (TEST-NET-1)
192.88.99.0-192.88.99.255 6to4 relay anycast
192.168.0.0-192.168.255.255 private (RFC 1918)
198.18.0.0-198.19.255.255 benchmarking
198.51.100.0-198.51.100.255 documentation (TEST-NET-2)
203.0.113.0-203.0.113.255 documentation (TEST-NET-3)
224.0.0.0-239.255.255.255 multicast
240.0.0.0-255.255.255.255 reserved and broadcast
::1 loopback
::ffff:0.0.0.0-::ffff:255.255.255.255 IPv4-mapped
64:ff9b::-64:ff9b::ffff:ffff NAT64
64:ff9b:1::-64:ff9b:1:ffff:ffff:ffff:ffff:ffff local-use NAT64
100::-100::ffff:ffff:ffff:ffff discard-only
2001::-2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff IETF protocol assignments (Teredo, ...)
2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff documentation
2002::-2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff 6to4
fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff unique local
fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff link-local
ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff multicast
EOF
}

# ------------------------------------------------------------------ the configuration

generate() {
    local ip range comment
    echo "# coturn configuration for ecomansoni, written by scripts/turn/coturn.conf.sh."
    if [ "$dev" -eq 1 ]; then
        echo "# DEVELOPMENT mode (--dev): loopback peers are allowed. Do not use in production."
    else
        echo "# Production mode: private, loopback and reserved peer ranges are denied."
    fi
    echo "# It holds the TURN shared secret: keep it readable by coturn only."
    echo "# Start with: turnserver -c <this file>"
    echo
    echo "# --- listeners"
    for ip in "${listening_ips[@]}"; do echo "listening-ip=$ip"; done
    echo "listening-port=$listening_port"
    echo "tls-listening-port=$tls_listening_port"
    if [ -n "$cert" ]; then
        echo "cert=$cert"
        echo "pkey=$pkey"
        echo "no-tlsv1"
        echo "no-tlsv1_1"
    else
        echo "no-tls"
        echo "no-dtls"
    fi
    echo
    echo "# --- relays"
    for ip in "${relay_ips[@]}"; do echo "relay-ip=$ip"; done
    for ip in "${external_ips[@]}"; do echo "external-ip=$ip"; done
    echo "min-port=$min_port"
    echo "max-port=$max_port"
    [ -z "$user_quota" ] || echo "user-quota=$user_quota"
    [ -z "$total_quota" ] || echo "total-quota=$total_quota"
    [ -z "$max_bps" ] || echo "max-bps=$max_bps"
    echo
    echo "# --- authentication: coturn's REST scheme, the one the server mints credentials for"
    echo "# username = \"<expiry unix seconds>:<userId>\", password = base64(HMAC-SHA1(secret, username))"
    echo "use-auth-secret"
    echo "static-auth-secret=$secret"
    echo "realm=$realm"
    echo "fingerprint"
    echo "stale-nonce=600"
    echo
    echo "# --- peer address policy"
    echo "no-multicast-peers"
    if [ "$dev" -eq 1 ]; then
        echo "allow-loopback-peers"
    fi
    for range in "${allowed_peers[@]}"; do echo "allowed-peer-ip=$range"; done
    while read -r range comment; do
        if [ "$dev" -eq 1 ] && [ "$comment" = loopback ]; then continue; fi
        echo "denied-peer-ip=$range"
    done < <(denied_ranges)
    echo
    echo "# --- hardening"
    echo "no-cli"
    echo "no-software-attribute"
    echo "no-rfc5780"
    echo "no-stun-backward-compatibility"
    echo "response-origin-only-with-rfc5780"
    echo
    echo "# --- process"
    [ -z "$userdb" ] || echo "userdb=$userdb"
    [ -z "$pidfile" ] || echo "pidfile=$pidfile"
    if [ -n "$log_file" ]; then
        echo "log-file=$log_file"
        echo "simple-log"
    fi
    [ "$verbose" -eq 0 ] || echo "verbose"
}

if [ -n "$output" ]; then
    dir=$(dirname -- "$output")
    [ -d "$dir" ] || die "-o: no such directory: $dir"
    tmp=$(umask 077 && mktemp "$dir/.coturn.conf.XXXXXX")
    trap 'rm -f -- "$tmp"' EXIT
    generate >"$tmp"
    chmod 600 "$tmp"
    mv -f -- "$tmp" "$output"
    trap - EXIT
else
    generate
fi
