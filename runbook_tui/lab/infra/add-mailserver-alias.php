<?php
/*
 * add-mailserver-alias.php
 *
 * Re-create the `mailserver` host alias (Firewall -> Aliases -> Hosts) pointing at the MetalLB
 * LoadBalancer IP. Needed before un-flipping NAT after Phase 6. Idempotent.
 */

require_once("config.inc");
require_once("filter.inc");

$ALIAS_NAME = 'mailserver';
$ALIAS_ADDRESS = '10.0.20.202';
$ALIAS_DESCR = 'Mailserver MetalLB LoadBalancer IP';

$aliases = config_get_path('aliases/alias', []);
foreach ($aliases as $alias) {
    if ($alias['name'] == $ALIAS_NAME) {
        echo "alias {$ALIAS_NAME} already present ({$alias['address']})\n";
        exit(0);
    }
}
$aliases[] = [
    'name' => $ALIAS_NAME,
    'type' => 'host',
    'address' => $ALIAS_ADDRESS,
    'descr' => $ALIAS_DESCR,
    'detail' => 'Entry added by add-mailserver-alias.php',
];
config_set_path('aliases/alias', $aliases);
write_config("Alias {$ALIAS_NAME} -> {$ALIAS_ADDRESS} added");
filter_configure();
echo "alias {$ALIAS_NAME} -> {$ALIAS_ADDRESS} added\n";
