#!/bin/sh
# Entrypoint of envbuilder/broker: the default user from the environment into rabbitmq.conf,
# a fresh Erlang cookie, then RabbitMQ in the foreground (its script stops the node on SIGTERM).
set -eu

fail() {
    echo "envbuilder-broker: $*" >&2
    exit 64
}

user=${RABBITMQ_DEFAULT_USER:-}
password=${RABBITMQ_DEFAULT_PASS:-}
if [ -n "$user" ] || [ -n "$password" ]; then
    [ -n "$user" ] && [ -n "$password" ] || fail "set both RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS, or neither"
    # A rabbitmq.conf value runs to the end of its line and '#' starts a comment: such values would be cut.
    for value in "$user" "$password"; do
        case $value in
            *[[:space:]]* | *'#'*) fail "RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS must not hold spaces or '#'" ;;
        esac
    done
fi

# The file holds the password: readable by this user only.
umask 077
{
    echo "log.console = true"
    echo "log.file = false"
    if [ -n "$user" ]; then
        # printf, not echo: dash's echo would turn a backslash in a password into an escape.
        printf 'default_user = %s\ndefault_pass = %s\n' "$user" "$password"
        # RabbitMQ admits guest over loopback only; this user, whatever its name, logs in from other pods.
        echo "loopback_users = none"
    fi
} > /etc/rabbitmq/rabbitmq.conf

[ -w "$HOME" ] || fail "$HOME is not writable by $(id -un) (uid $(id -u)); mount a writable volume there (an emptyDir is)"

# The package's postinst made a cookie that every container of this image would share.
rm -f "$HOME/.erlang.cookie"
head -c 32 /dev/urandom | od -A n -t x1 | tr -d ' \n' > "$HOME/.erlang.cookie"

exec rabbitmq-server "$@"
