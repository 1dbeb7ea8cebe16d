from django import forms


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "invalid": "Enter a valid email address.",
            "required": "Enter your email address.",
            "max_length": "Enter a valid email address (at most 254 characters).",
        },
    )
