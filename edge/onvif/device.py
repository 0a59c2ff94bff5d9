"""ONVIF's device service (``/onvif/device_service``): who the camera is, its clock, its services."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from edge.onvif.auth import PRE_AUTH
from edge.onvif.endpoint import Call, Handler, Operation
from edge.onvif.identity import Identity, listed_interfaces
from edge.onvif.soap import TDS, TEV, TRT

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
EVENTS_PATH = "/onvif/events_service"
DEVICE_VERSION = (2, 60)  # ONVIF Core 2.6, what the answers follow
MEDIA_VERSION = (2, 60)
EVENTS_VERSION = (2, 60)
# GetWsdlUrl's answer: the camera serves no WSDL of its own, it follows ONVIF's published ones.
WSDL_URL = "http://www.onvif.org/onvif/ver10/device/wsdl/devicemgmt.wsdl"


def device_capabilities_xml() -> str:
    """tds:Capabilities' content: how to authenticate, what the network side offers."""
    return (
        '<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false" '
        'Dot11Configuration="false" HostnameFromDHCP="false" NTP="0"/>'
        '<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" OnboardKeyGeneration="false" '
        'AccessPolicyConfig="false" DefaultAccessPolicy="false" Dot1X="false" RemoteUserHandling="false" '
        'X.509Token="false" SAMLToken="false" KerberosToken="false" UsernameToken="true" HttpDigest="true" '
        'RELToken="false"/>'
        '<tds:System DiscoveryResolve="false" DiscoveryBye="true" RemoteDiscovery="false" SystemBackup="false" '
        'SystemLogging="false" FirmwareUpgrade="false" HttpFirmwareUpgrade="false" HttpSystemBackup="false" '
        'HttpSystemLogging="false" HttpSupportInformation="false"/>'
    )


def media_capabilities_xml() -> str:
    return (
        '<trt:ProfileCapabilities MaximumNumberOfProfiles="1"/>'
        '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true" '
        'NonAggregateControl="false" NoRTSPStreaming="false"/>'
    )


def events_capabilities_attributes(max_pull_points: int) -> str:
    return (
        'WSSubscriptionPolicySupport="false" WSPullPointSupport="true" '
        'WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" '
        f'MaxPullPoints="{max_pull_points}" PersistentNotificationStorage="false"'
    )


class DeviceService:
    def __init__(self, identity: Identity, listen_host: str, max_pull_points: int) -> None:
        self._identity = identity
        self._listen_host = listen_host
        self._max_pull_points = max_pull_points

    def operations(self) -> dict[tuple[str, str], Operation]:
        handlers: dict[str, Handler] = {
            "GetDeviceInformation": self.get_device_information,
            "GetSystemDateAndTime": self.get_system_date_and_time,
            "GetCapabilities": self.get_capabilities,
            "GetServices": self.get_services,
            "GetServiceCapabilities": self.get_service_capabilities,
            "GetScopes": self.get_scopes,
            "GetNetworkInterfaces": self.get_network_interfaces,
            "GetHostname": self.get_hostname,
            "GetWsdlUrl": self.get_wsdl_url,
            "GetEndpointReference": self.get_endpoint_reference,
        }
        return {
            (TDS, name): Operation(handler, f"{TDS}/{name}Response", open=name in PRE_AUTH)
            for name, handler in handlers.items()
        }

    async def get_device_information(self, call: Call) -> str:
        me = self._identity
        return (
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(me.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(me.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(me.firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(me.serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(me.model)}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    async def get_system_date_and_time(self, call: Call) -> str:
        now = datetime.now(UTC)
        moment = (
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
        )
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{moment}</tt:UTCDateTime><tt:LocalDateTime>{moment}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    async def get_capabilities(self, call: Call) -> str:
        base = escape(call.base_url)
        events = (
            f"<tt:Events><tt:XAddr>{base}{EVENTS_PATH}</tt:XAddr>"
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
            "</tt:Events>"
        )
        major, minor = DEVICE_VERSION
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{base}{DEVICE_PATH}</tt:XAddr>"
            "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
            "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>"
            "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>"
            "<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>"
            "<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>"
            f"<tt:SupportedVersions><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tt:SupportedVersions>"
            "</tt:System>"
            "<tt:IO><tt:InputConnectors>0</tt:InputConnectors><tt:RelayOutputs>0</tt:RelayOutputs></tt:IO>"
            "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
            "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
            "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>"
            "<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>"
            "</tt:Device>"
            f"{events}"
            f"<tt:Media><tt:XAddr>{base}{MEDIA_PATH}</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    async def get_services(self, call: Call) -> str:
        include = (call.soap.text(f"{{{TDS}}}IncludeCapability") or "").lower() in ("true", "1")
        services = [
            (TDS, DEVICE_PATH, DEVICE_VERSION, f"<tds:Capabilities>{device_capabilities_xml()}</tds:Capabilities>"),
            (TRT, MEDIA_PATH, MEDIA_VERSION, f"<trt:Capabilities>{media_capabilities_xml()}</trt:Capabilities>"),
            (
                TEV,
                EVENTS_PATH,
                EVENTS_VERSION,
                f"<tev:Capabilities {events_capabilities_attributes(self._max_pull_points)}/>",
            ),
        ]
        listed = "".join(
            f"<tds:Service><tds:Namespace>{namespace}</tds:Namespace>"
            f"<tds:XAddr>{escape(call.base_url)}{path}</tds:XAddr>"
            + (f"<tds:Capabilities>{capabilities}</tds:Capabilities>" if include else "")
            + f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
            for namespace, path, (major, minor), capabilities in services
        )
        return f"<tds:GetServicesResponse>{listed}</tds:GetServicesResponse>"

    async def get_service_capabilities(self, call: Call) -> str:
        return (
            "<tds:GetServiceCapabilitiesResponse><tds:Capabilities>"
            f"{device_capabilities_xml()}</tds:Capabilities></tds:GetServiceCapabilitiesResponse>"
        )

    async def get_scopes(self, call: Call) -> str:
        scopes = "".join(
            f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(scope)}</tt:ScopeItem></tds:Scopes>"
            for scope in self._identity.scopes()
        )
        return f"<tds:GetScopesResponse>{scopes}</tds:GetScopesResponse>"

    async def get_network_interfaces(self, call: Call) -> str:
        listed = []
        for interface in listed_interfaces(self._listen_host):
            addresses = "".join(
                f"<tt:Manual><tt:Address>{address}</tt:Address><tt:PrefixLength>{prefix}</tt:PrefixLength></tt:Manual>"
                for address, prefix in interface.addresses
            )
            mac = (
                f"<tt:HwAddress>{escape(interface.hardware_address)}</tt:HwAddress>"
                if interface.hardware_address
                else ""
            )
            listed.append(
                f"<tds:NetworkInterfaces token={quoteattr(interface.name)}><tt:Enabled>true</tt:Enabled>"
                f"<tt:Info><tt:Name>{escape(interface.name)}</tt:Name>{mac}</tt:Info>"
                f"<tt:IPv4><tt:Enabled>{'true' if addresses else 'false'}</tt:Enabled>"
                f"<tt:Config>{addresses}<tt:DHCP>false</tt:DHCP></tt:Config>"
                "</tt:IPv4></tds:NetworkInterfaces>"
            )
        return f"<tds:GetNetworkInterfacesResponse>{''.join(listed)}</tds:GetNetworkInterfacesResponse>"

    async def get_hostname(self, call: Call) -> str:
        return (
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"<tt:Name>{escape(self._identity.hostname)}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>"
        )

    async def get_wsdl_url(self, call: Call) -> str:
        return f"<tds:GetWsdlUrlResponse><tds:WsdlUrl>{WSDL_URL}</tds:WsdlUrl></tds:GetWsdlUrlResponse>"

    async def get_endpoint_reference(self, call: Call) -> str:
        """The device service's endpoint reference address: the one WS-Discovery announces."""
        guid = escape(self._identity.endpoint_reference)
        return f"<tds:GetEndpointReferenceResponse><tds:GUID>{guid}</tds:GUID></tds:GetEndpointReferenceResponse>"
