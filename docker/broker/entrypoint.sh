#!/bin/sh
# Entrypoint of envbuilder/broker: logs to the console, a fresh Erlang cookie, then RabbitMQ in the
# foreground (its script stops the node on SIGTERM). The first user comes from a file in
# /etc/rabbitmq/conf.d (default_user, default_pass), mounted from a Secret: never from the environment.
set -eu

fail() {
    echo "envbuilder-broker: $*" >&2
    exit 64
}

printf 'log.console = true\nlog.file = false\n' > /etc/rabbitmq/rabbitmq.conf

[ -w "$HOME" ] || fail "$HOME is not writable by $(id -un) (uid $(id -u)); mount a writable volume there (an emptyDir is)"

# The package's postinst made a cookie that every container of this image would share.
umask 077
rm -f "$HOME/.erlang.cookie"
head -c 32 /dev/urandom | od -A n -t x1 | tr -d ' \n' > "$HOME/.erlang.cookie"

exec rabbitmq-server "$@"
