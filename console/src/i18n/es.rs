//! Español.

use super::en::Strings;

pub const ES: Strings = Strings {
    lang: "es",
    now: "ahora",
    back_to_list: "Volver a las conversaciones",
    back_to_conversation: "Volver a la conversación",
    visitor_details: "Datos del visitante",
    shortcuts: "Atajos de teclado",
    close: "Cerrar",
    or: "o",
    key_next: "Conversación siguiente",
    key_previous: "Conversación anterior",
    key_reply: "Responder",
    key_canned: "Respuestas guardadas",
    key_resolve: "Resolver",
    key_take: "Tomar (asignármela)",
    key_help: "Mostrar estos atajos",
    key_escape: "Salir del cuadro de respuesta; cerrar esta lista",
    cannot_take: "No puede tomar esta conversación.",
    cannot_resolve: "No puede resolver esta conversación.",
    notify_offer:
        "Reciba un aviso cuando un chat le necesite mientras esta pestaña está en segundo plano.",
    notify_on: "Activar avisos",
    notify_later: "Ahora no",
    sound: "Sonido",
    new_conversation: "Conversación nueva",
    assigned_to_you: "Asignada a usted",
    new_message: "Mensaje nuevo de {name}",
    unread_count: "{n} sin leer",
};
