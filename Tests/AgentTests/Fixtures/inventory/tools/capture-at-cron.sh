set -e
mount --bind /tmp/x/atjobs /var/spool/cron/atjobs
mount --bind /tmp/x/crontabs /var/spool/cron/crontabs
mount --bind /tmp/x/etc/passwd /etc/passwd
mount --bind /tmp/x/etc/group /etc/group
mount --bind /tmp/x/etc/shadow /etc/shadow
cd /root
echo '/tmp/.x/worm --spread 198.18.0.0/15' | env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 at -t 203001011200 2>&1
printf 'cd /var/tmp\n./payload.sh\nrm -f /var/tmp/payload.sh\n' | env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 at -q b -t 203006150930 2>&1
printf 'printf "%%s\\n" "hello world" > /dev/null\n' | env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 at -q z -t 203512312359 2>&1
mount -t tmpfs tmpfs /home; mkdir -p /home/alice/bin; chown -R 1001:1001 /home/alice; cd /home/alice
echo '/home/alice/bin/report.sh' | env -i PATH=/usr/bin:/bin HOME=/home/alice LANG=C.UTF-8 setpriv --reuid=1001 --regid=1001 --clear-groups at -t 203002020202 2>&1
printf 'SHELL=/bin/sh\nMAILTO=root\n# m h dom mon dow command\n*/5 * * * * /dev/shm/.kworker >/dev/null 2>&1\n@reboot /usr/local/bin/startup.sh\n@daily /usr/bin/find /tmp -mtime +7 -delete\n0 3 * * 1 /usr/bin/apt-get update -q\n' | crontab -u root - 
printf '# alice crontab\n15 2 * * * /home/alice/bin/report.sh --mail\n15 2 * * * /home/alice/bin/report.sh --mail\n' | env -i PATH=/usr/bin:/bin HOME=/home/alice LANG=C.UTF-8 setpriv --reuid=1001 --regid=1001 --clear-groups crontab -
atq
ls -la /var/spool/cron/atjobs /var/spool/cron/crontabs
