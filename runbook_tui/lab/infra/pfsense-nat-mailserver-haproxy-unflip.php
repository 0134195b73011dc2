<?php
/*
 * pfsense-nat-mailserver-haproxy-unflip.php
 *
 * Rollback of Phase 4: point the WAN port forwards for the mail ports back at the
 * <mailserver> host alias (the MetalLB LoadBalancer IP). Only meaningful while the alias
 * exists and the mailserver Service is a LoadBalancer holding that IP.
 *
 *   scp ... admin@10.0.20.1:/tmp/ && ssh admin@10.0.20.1 'php /tmp/pfsense-nat-mailserver-haproxy-unflip.php'
 */

require_once("config.inc");
require_once("filter.inc");

$NAT_TARGET = 'mailserver';
$PORTS = [25, 465, 587, 993];

$changed = 0;
$rules = config_get_path('nat/rule', []);
foreach ($rules as $i => $rule) {
    $port = $rule['destination']['port'] ?? '';
    if ($rule['interface'] == 'wan' && in_array((int)$port, $PORTS, true)) {
        if ($rule['target'] != $NAT_TARGET) {
            $rules[$i]['target'] = $NAT_TARGET;
            $changed++;
        }
    }
}
config_set_path('nat/rule', $rules);
if ($changed > 0) {
    write_config("NAT: mail ports -> {$NAT_TARGET}");
}
// filter_configure() queues a filter reload and returns nothing: the proof is a fresh pfctl -sn.
filter_configure();
echo "nat rules retargeted: {$changed} -> {$NAT_TARGET}\n";
